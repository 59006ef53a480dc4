"""The REST edge: authentication, validation and body limits in front of the services' gRPC APIs."""
