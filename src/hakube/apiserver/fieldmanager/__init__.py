"""Server-side apply and field ownership (`metadata.managedFields`).

Mirrors sigs.k8s.io/structured-merge-diff (fieldpath sets, typed compare and
merge) and kube-apiserver `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`
(plus apimachinery `util/managedfields`): every write records which manager
owns which fields, an apply merges a manager's configuration into the live
object by the schema's list types, prunes what the manager stopped applying
and nobody else owns, and reports conflicts with other managers' fields.
"""

from hakube.apiserver.fieldmanager.manager import apply, check_manager, default_manager, record_update

__all__ = ["apply", "check_manager", "default_manager", "record_update"]
