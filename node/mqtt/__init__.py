"""MQTT transport: the only package that imports aiomqtt."""
