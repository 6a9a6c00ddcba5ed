"""`bb build`: the Dockerfile front end, translating instructions into working-container steps."""
