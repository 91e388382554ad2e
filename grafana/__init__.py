"""The bundled Grafana dashboard (generated from code) and provisioning examples."""
