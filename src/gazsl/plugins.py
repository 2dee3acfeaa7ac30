"""Plugins: code of the user's that gazsl calls, named by import path or found by an installed package's entry point.

A plugin is named ``module.path:attribute`` (a module on ``sys.path``: installed, or on PYTHONPATH), or by the name
of an entry point in an installed package's group (``gazsl.encoders``: ``[project.entry-points."gazsl.encoders"]
myenc = "mypkg.mod:encode"``). ``load_plugin`` returns it with what a record needs to find the same code again:
its import path and the version of the package that holds it (None for a module that no installed package holds).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata

from gazsl.io import GazslError, one_line


@dataclass(frozen=True)
class Plugin:
    target: object  # the function or class the import path names
    import_path: str  # module.path:attribute
    package: str | None  # the installed distribution that holds the module, if any
    version: str | None  # its version

    def record(self) -> dict:
        return {"plugin": self.import_path, "package": self.package, "package_version": self.version}


def load_plugin(spec: str, group: str, what: str) -> Plugin:
    """The plugin ``spec`` (``module:attribute``, or an entry point's name in ``group``); ``what`` names it in errors
    ("encoder plugin"). A missing module or attribute, or an unknown entry point, is one GazslError."""
    import_path = spec if ":" in spec else _entry_point(spec, group, what)
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise GazslError(f"{what} '{spec}': expected module.path:attribute")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or the module's own code failing as it is imported
        raise GazslError(f"{what} '{import_path}': cannot import module '{module_name}' ({one_line(err, 160)}); is its "
                         "folder on PYTHONPATH, or its package installed?") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise GazslError(f"{what} '{import_path}': module '{module_name}' has no attribute '{attribute}'")
        target = getattr(target, part)
    package, version = module_distribution(module_name)
    return Plugin(target, import_path, package, version)


def _entry_point(name: str, group: str, what: str) -> str:
    found = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    if not found:
        raise GazslError(f"{what} '{name}': not module.path:attribute, nor an entry point of group '{group}' "
                         f"(installed: {', '.join(entry_point_names(group)) or 'none'})")
    return found[0].value.replace(" ", "")


def module_distribution(module_name: str) -> tuple[str | None, str | None]:
    """The installed distribution that holds the top-level package of ``module_name`` and its version, or (None, None)."""
    top = module_name.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None, None


def entry_point_names(group: str) -> list[str]:
    """The names of the installed entry points of ``group``."""
    return sorted(ep.name for ep in metadata.entry_points(group=group))
