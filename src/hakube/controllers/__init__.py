"""The controller-manager and its controllers."""
