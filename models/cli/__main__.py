from models.cli.main import main

raise SystemExit(main())
