"""pipeline: opportunities opened from contacted leads and followed through their stages."""
