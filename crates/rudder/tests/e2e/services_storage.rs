//! Endpoints, EndpointSlices, volumes (PV binder, local-path), disruption budgets, quotas and autoscalers with simulated nodes.
