"""The image store: layers, images, working containers and content blobs under a graph root."""
