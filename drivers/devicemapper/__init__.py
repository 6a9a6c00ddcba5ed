"""The devicemapper storage driver (kernel dm-thin provisioning)."""
