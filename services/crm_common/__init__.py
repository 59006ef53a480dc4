"""The shared library of every CRM service: settings, logs, telemetry, gRPC, database and event bus."""
