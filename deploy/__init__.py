"""Serving more than one class: N replicas of the page behind HAProxy with cookie-sticky sessions.

``python -m deploy --replicas N`` runs them on one machine; ``python -m deploy compose`` writes the
docker compose recipe (``deploy/compose.yaml``, ``deploy/haproxy.compose.cfg``). See README.md,
"Serving more than one class".
"""
