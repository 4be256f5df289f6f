"""Who may do what: Django model permissions (the ops-console groups hold the same ones)."""

from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated


class ModelPermissions(DjangoModelPermissions):
    """view_<model> to read (DRF's default lets any authenticated user read), add/change to
    write."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class HasPerms(IsAuthenticated):
    """Requires every permission in the view's `required_perms` (e.g. for report views)."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.user.has_perms(getattr(view, "required_perms", ()))
