"""This node as a member of a cluster: what it tells the others about itself."""
