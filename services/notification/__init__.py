"""Notification service: tells people what they must act on, through pluggable delivery channels."""
