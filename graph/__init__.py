"""Neo4j (server lifecycle, schema, writer, reader) and graph risk features."""
