"""Optimal-transport integration: the OT and centroid-OT models and the transport maps they share."""
