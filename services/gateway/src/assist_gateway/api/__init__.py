"""The gateway's HTTP API at /api/v1 (CONTRACT.md §2): thin routes over the staff, crud and termination
modules.
"""
