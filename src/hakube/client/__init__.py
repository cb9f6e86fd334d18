"""The API client our components use: requests, watches, informers and work queues."""
