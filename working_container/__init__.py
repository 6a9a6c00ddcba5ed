"""The step engine: a working container and the steps that change it.

`container.WorkingContainer` is one persistent container (`bb from`): its rootfs on the
store's driver, its image config, its state file. The steps are `run` (a command under runc),
`copy` (COPY/ADD), `configuration` (every change to the image config, for `bb config` and
the Dockerfile front end alike) and `commit` (a new image from the container). Shell scripts
and `bb build` drive the same steps.
"""
