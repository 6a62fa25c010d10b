"""Helpers the tests share: the test world, GraphQL documents, clients of an app or a server process,
private servers, a browser and Node. The fixtures that use them are in tests/conftest.py."""
