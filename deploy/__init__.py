"""Running the API as a deployment would: deploy/local_cluster.py starts a multi-node topology on one machine."""
