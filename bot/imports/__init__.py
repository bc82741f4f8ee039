"""Importing customers: import runs and their leases, the job that walks a package's pages, and the runner."""
