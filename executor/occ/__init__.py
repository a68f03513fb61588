"""OCC: the gRPC control protocol between the executor and task processes."""
