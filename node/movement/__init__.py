"""Movement recognition: pose per tracked person, windowed features, rules and a temporal model."""
