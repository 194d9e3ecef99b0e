"""Cluster templates: versioned YAML documents that turn a few user choices into a cluster.

Platform admins publish templates (the counterpart of an EMR Service Catalog product);
users launch clusters from them by giving parameter values, never machine details::

    template = load_template(text)                 # parse, check references, dry-run
    spec = resolve(template, {"UserConcurrency": "7", "MemoryProfile": "medium"})

See :mod:`sparkstudio.templates.functions` for the expression language and
:mod:`sparkstudio.templates.plugins` for platform-installed sizing functions.
"""

from sparkstudio.templates.catalog import builtin_names, builtin_text, load_builtin
from sparkstudio.templates.engine import (
    check_template,
    coerce_parameters,
    describe_parameters,
    load_template,
    resolve,
)
from sparkstudio.templates.model import Parameter, Template, TemplateDocument, compile_template
from sparkstudio.templates.plugins import ENTRY_POINT_GROUP, FunctionRegistry, default_registry
from sparkstudio.templates.source import load_yaml
from sparkstudio.templates.spec import ClusterSpec, build_spec

__all__ = [
    "ENTRY_POINT_GROUP",
    "ClusterSpec",
    "FunctionRegistry",
    "Parameter",
    "Template",
    "TemplateDocument",
    "build_spec",
    "builtin_names",
    "builtin_text",
    "check_template",
    "coerce_parameters",
    "compile_template",
    "default_registry",
    "describe_parameters",
    "load_builtin",
    "load_template",
    "load_yaml",
    "resolve",
]
