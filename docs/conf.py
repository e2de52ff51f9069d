"""Sphinx configuration of the clvmodels documentation.

Build (from the repository root; CI runs exactly this)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Warnings are errors and cross-references are checked (``nitpicky``). The notebooks
of ``notebooks/`` and the executable pages (``file_format: mystnb``) are run during the
build by myst-nb; a cell that raises fails the build.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not another installed copy
# the kernels that execute the pages are child processes: they must import it too
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)

import clvmodels  # noqa: E402

project = "clvmodels"
author = "clvmodels developers"
copyright = "clvmodels developers"
release = clvmodels.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
    "sphinx_copybutton",
]

exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
templates_path = ["_templates"]

# --------------------------------------------------------------------------- cross-references
nitpicky = True
default_role = "py:obj"
# No network at build time (and no intersphinx inventories): names of other packages
# cannot be resolved, so they are let through; every clvmodels name must resolve.
_EXTERNAL = (
    r"(numpy|np|pandas|pd|scipy|matplotlib|mpl|sklearn|pyspark|pyarrow|tqdm|jinja2|"
    r"datetime|collections|typing|os|pathlib|json|argparse|io|warnings|numbers|abc|enum|"
    r"dataclasses|types)(\..*)?"
)
nitpick_ignore_regex = [
    ("py:.*", _EXTERNAL),
    # builtin and typing names that appear in signatures and numpydoc types
    ("py:.*", r"(Any|Callable|Iterable|Iterator|Mapping|Sequence|Literal|Self|Optional|Union|"
              r"ArrayLike|NDArray|DataFrame|Series|Axes|Figure|Index|Timestamp|Path|PathLike|"
              r"SparkSession|Column|Generator|RandomState|Hashable|Collection|Protocol|"
              r"TypeAlias|ClassVar|Final|TextIO|BinaryIO)"),
]

# --------------------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "signature"
# clvmodels.spark needs pyspark (the spark extra); the docs extra does without it, so a
# build without pyspark documents the module against a stand-in of it.
autodoc_mock_imports = [] if importlib.util.find_spec("pyspark") else ["pyspark"]
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --------------------------------------------------------------------------- notebooks
# Every page is executed afresh in CI (a clean checkout has no cache); a cell error fails.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_update_mathjax = False  # MathJax 2 (served locally) takes the config below

# --------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"clvmodels {release}"
html_static_path = ["_static"]
html_css_files = ["clvmodels.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# MathJax is served from the site itself (the build machine and readers may be offline):
# the MathJax 2 files of jupyter-server-mathjax are copied to _static/mathjax when the
# build finishes (_copy_mathjax); they carry the STIX-Web fonts only.
import jupyter_server_mathjax  # noqa: E402

_MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": True},
    "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web",
                 "webFont": "STIX-Web", "imageFont": None,
                 "linebreaks": {"automatic": True}},
    "showMathMenu": False,
    "messageStyle": "none",
}


# --------------------------------------------------------------------------- build hooks
def _copy_notebooks(app) -> None:
    """The notebooks live in notebooks/ (outside the source tree): copy them in."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        dest = target / nb.name
        if not dest.exists() or dest.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, dest)


# Public namespaces of the reference. Docstrings may name an object by its implementation
# path (``clvmodels.models._base.BaseModel``, ``clvmodels.models.uncertainty``) or, inside a
# class, by a bare name (``log_likelihood``): such a reference is sent to the page of the same
# object under its public name, or of the public namespace an implementation module belongs
# to. A name that exists in the code but is not public (a module's pure function, a private
# helper) is set as plain code, since the reference covers the public API only. A name that
# does not exist at all still fails the build: that is what ``nitpicky`` is kept for.
PUBLIC_NAMESPACES = [
    "clvmodels", "clvmodels.models", "clvmodels.formulas", "clvmodels.evaluation",
    "clvmodels.plotting", "clvmodels.data", "clvmodels.data.simulate", "clvmodels.datasets",
    "clvmodels.errors", "clvmodels.report", "clvmodels.spark", "clvmodels.bundle",
]
_PUBLIC: dict[int, str] = {}


def _public_names() -> dict[int, str]:
    """id(object) -> its documented public name (the first namespace that exports it)."""
    if not _PUBLIC:
        for ns in PUBLIC_NAMESPACES[1:]:
            module = importlib.import_module(ns)
            for name in getattr(module, "__all__", []):
                obj = getattr(module, name)
                if inspect.isclass(obj) or inspect.isfunction(obj):
                    _PUBLIC.setdefault(id(obj), f"{ns}.{name}")
    return _PUBLIC


def _resolve_object(target: str):
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _candidates(node) -> list[str]:
    """Full names a (possibly bare) reference target may mean, most specific first."""
    target = node.get("reftarget", "")
    if target.startswith("clvmodels"):
        return [target]
    contexts = []
    module, cls = node.get("py:module"), node.get("py:class")
    if module and cls:
        contexts.append(f"{module}.{cls}")
    # the object whose docstring holds the reference, and the module that defines it
    documented = _resolve_object(f"{module}.{cls}") if module and cls else None
    if documented is None and node.get("refdoc", "").startswith("api/generated/"):
        documented = _resolve_object(node["refdoc"].rsplit("/", 1)[1])
    if documented is not None:
        home = getattr(documented, "__module__", None)
        if inspect.isclass(documented):
            contexts.append(f"{home}.{documented.__qualname__}")
        if home:
            contexts.append(home)
    if module:
        contexts.append(module)
    return [f"{c}.{target}" for c in contexts if c.startswith("clvmodels")]


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    public_names = _public_names()
    for target in _candidates(node):
        obj = _resolve_object(target)
        if obj is None:
            continue
        if inspect.ismodule(obj):
            public = obj.__name__
            while public not in PUBLIC_NAMESPACES and "." in public:
                public = public.rsplit(".", 1)[0]
        else:
            public = public_names.get(id(obj))
            if public is None:  # a method or attribute of a public class?
                owner = _resolve_object(target.rsplit(".", 1)[0])
                owner_public = public_names.get(id(owner))
                if owner_public is not None:
                    public = f"{owner_public}.{target.rsplit('.', 1)[1]}"
        if public is not None and public != node["reftarget"]:
            new = node.deepcopy()
            new["reftarget"] = public
            reftype = "mod" if inspect.ismodule(obj) else node["reftype"]
            found = domain.resolve_xref(env, node["refdoc"], app.builder, reftype, public,
                                        new, contnode)
            if found is not None:
                return found
        return contnode  # real but not public: plain code, no link
    return None


_SKLEARN_ROUTING = ("get_metadata_routing",)


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing methods (set_fit_request, ...) are not ours
    if name in _SKLEARN_ROUTING or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


def _copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
    app.connect("builder-inited", _copy_notebooks)
    app.connect("missing-reference", _missing_reference)
    app.connect("autodoc-skip-member", _skip_member)
