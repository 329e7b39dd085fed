"""The `skill` decorator that skill files may import instead of defining their own:

    from skillgate_host.decorator import skill

    @skill("Disk usage of the workspace", approval=False)
    def workspace_disk_usage(): ...

Discovery looks only at the attributes it sets (is_skill, description, requires_approval,
network), so a file that defines its own decorator setting them keeps working. The package sits
next to host.py, which puts it on sys.path; both sandboxes let the host and its skill processes
read it (Landlock grants host.py's folder, bwrap binds the package read-only).
"""

import functools


def skill(description, approval=False, network=False):
    """Marks a function as a skill. `approval`: the user confirms each call first; `network`: the
    call may open TCP connections (it then runs in a cold host)."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        setattr(wrapper, "is_skill", True)
        setattr(wrapper, "description", description)
        setattr(wrapper, "requires_approval", approval)
        setattr(wrapper, "network", network)
        return wrapper
    return decorator
