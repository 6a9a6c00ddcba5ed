"""The Dockerfile front end's input side: parsing, variable expansion, .dockerignore."""
