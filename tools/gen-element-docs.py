#!/usr/bin/env python3
"""Writes the element reference (docs/reference/<element>.md) from the GStreamer registry.

The pages are generated from what the built plugin registers -- properties with their type,
range, default, flags and description, pad templates, signals -- so they cannot drift from
the code. tests/docs/check_element_docs.py regenerates them into a temporary folder and
fails when the committed pages differ.

Refresh after changing an element (from the repository root, after building):

    /usr/bin/python3 tools/gen-element-docs.py build/gst/libgstsam3.so docs/reference

(/usr/bin/python3: Debian's Python, which has PyGObject, python3-gi.)
"""

import argparse
import os
import pathlib
import sys

# Load only the plugin named on the command line: no system registry scan (slow, and other
# plugins are irrelevant), and nothing from the user's environment leaks into the pages.
os.environ["GST_REGISTRY_DISABLE"] = "yes"
os.environ.pop("GST_PLUGIN_PATH", None)
os.environ.pop("GST_PLUGIN_PATH_1_0", None)

try:
    import gi
except ImportError:
    sys.exit("gen-element-docs: needs PyGObject (Debian: python3-gi, for /usr/bin/python3)")

gi.require_version("Gst", "1.0")
from gi.repository import GLib, GObject, Gst  # noqa: E402

REFRESH = "/usr/bin/python3 tools/gen-element-docs.py build/gst/libgstsam3.so docs/reference"
GUIDE = "../elements.md"

# Fundamental types named the way gst-inspect-1.0 and the hand-written guide name them.
TYPE_NAMES = {
    "gchararray": "string",
    "gboolean": "boolean",
    "gint": "int",
    "guint": "uint",
    "gint64": "int64",
    "guint64": "uint64",
    "glong": "long",
    "gulong": "ulong",
    "gfloat": "float",
    "gdouble": "double",
}

NUMERIC = {"gint", "guint", "gint64", "guint64", "glong", "gulong", "gfloat", "gdouble"}


def md(text):
    """Makes free text safe inside a Markdown table cell."""
    return (text or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def number(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


def enum_values(pspec):
    """(value, nick, name) of every member of an enum or flags property's type."""
    # PyGObject exposes the members on the Python class it wraps the default value in.
    cls = type(pspec.default_value)
    members = getattr(cls, "__enum_values__", None) or getattr(cls, "__flags_values__")
    return sorted((int(k), v.value_nick, v.value_name) for k, v in members.items())


def enum_default(pspec):
    value = int(pspec.default_value)
    for number_, nick, _ in enum_values(pspec):
        if number_ == value:
            return f"`{nick}` ({value})"
    return str(value)


def flags_text(pspec):
    flags = int(pspec.flags)
    words = []
    if flags & GObject.ParamFlags.READABLE:
        words.append("readable")
    if flags & GObject.ParamFlags.WRITABLE:
        words.append("writable")
    if flags & GObject.ParamFlags.CONSTRUCT_ONLY:
        words.append("construct-only")
    if flags & Gst.PARAM_CONTROLLABLE:
        words.append("controllable")
    if flags & GObject.ParamFlags.DEPRECATED:
        words.append("deprecated")
    if flags & GObject.ParamFlags.WRITABLE:
        if flags & Gst.PARAM_MUTABLE_PLAYING:
            words.append("changeable in NULL, READY, PAUSED or PLAYING")
        elif flags & Gst.PARAM_MUTABLE_PAUSED:
            words.append("changeable in NULL, READY or PAUSED")
        elif flags & Gst.PARAM_MUTABLE_READY:
            words.append("changeable in NULL or READY")
    return ", ".join(words)


def type_and_range(pspec):
    vt = pspec.value_type
    name = vt.name
    if name in NUMERIC:
        return TYPE_NAMES[name], f"{number(pspec.minimum)} .. {number(pspec.maximum)}"
    if GObject.type_is_a(vt, GObject.TYPE_ENUM) or GObject.type_is_a(vt, GObject.TYPE_FLAGS):
        kind = "flags" if GObject.type_is_a(vt, GObject.TYPE_FLAGS) else "enum"
        nicks = ", ".join(f"`{nick}`" for _, nick, _ in enum_values(pspec))
        return f"{kind} `{name}`", nicks
    return TYPE_NAMES.get(name, f"`{name}`"), ""


def default_text(pspec):
    vt = pspec.value_type
    if GObject.type_is_a(vt, GObject.TYPE_ENUM) or GObject.type_is_a(vt, GObject.TYPE_FLAGS):
        return enum_default(pspec)
    if vt.name in TYPE_NAMES:
        value = pspec.default_value
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return f'`"{md(value)}"`'
        return number(value)
    return ""


def property_rows(pspecs):
    rows = [
        "| property | type | range / values | default | flags | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in pspecs:
        type_name, value_range = type_and_range(p)
        rows.append(
            f"| `{p.name}` | {type_name} | {value_range} | {default_text(p)} | "
            f"{flags_text(p)} | {md(p.blurb)} |"
        )
    return rows


def split_top_level(text):
    """Splits a caps structure string at the commas that separate its fields."""
    parts, depth, quoted, current = [], 0, False, ""
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "{[(<":
            depth += 1
        elif not quoted and ch in "}])>":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def caps_lines(caps):
    if caps.is_any():
        return ["ANY"]
    if caps.is_empty():
        return ["EMPTY"]
    lines = []
    for i in range(caps.get_size()):
        structure = caps.get_structure(i)
        features = caps.get_features(i)
        head, *fields = split_top_level(structure.to_string().rstrip(";"))
        if features is not None and not features.is_any() and features.to_string() != (
            "memory:SystemMemory"
        ):
            head += f"({features.to_string()})"
        lines.append(head)
        for field in fields:
            key, _, value = field.partition("=")
            lines.append(f"    {key.strip()}: {value.strip()}")
    return lines


def rank_text(rank):
    names = {Gst.Rank.NONE: "none", Gst.Rank.MARGINAL: "marginal",
             Gst.Rank.SECONDARY: "secondary", Gst.Rank.PRIMARY: "primary"}
    return names.get(rank, str(rank))


def hierarchy(gtype):
    chain = []
    while gtype and gtype.name != "invalid":
        chain.append(gtype.name)
        gtype = gtype.parent
    return " > ".join(reversed(chain))


def own_signals(gtype):
    """Signals of the element's classes below GstElement (GstElement's own are documented
    by GStreamer)."""
    found = []
    t = gtype
    while t and t.name not in ("GstElement", "invalid"):
        for sid in GObject.signal_list_ids(t):
            q = GObject.signal_query(sid)
            params = ", ".join(p.name for p in q.param_types)
            action = " (action)" if q.signal_flags & GObject.SignalFlags.ACTION else ""
            found.append(
                f"| `{q.signal_name}` | {t.name} | ({params}) -> {q.return_type.name}{action} |"
            )
        t = t.parent
    return found


def element_page(factory):
    element = factory.create(None)
    if element is None:
        raise RuntimeError(f"cannot create element {factory.get_name()}")
    gtype = element.__gtype__
    name = factory.get_name()
    own = [p for p in GObject.list_properties(element) if p.owner_type == gtype]
    inherited = [p for p in GObject.list_properties(element) if p.owner_type != gtype]
    interfaces = ", ".join(i.name for i in GObject.type_interfaces(gtype)) or "none"

    out = [
        f"# {name}",
        "",
        "<!-- Generated by tools/gen-element-docs.py from the GStreamer registry; do not edit.",
        f"     Refresh: {REFRESH} -->",
        "",
        f"**{md(factory.get_metadata('long-name'))}** — {md(factory.get_metadata('description'))}",
        "",
        f"Behaviour, examples and caveats: [elements.md]({GUIDE}#{name}).",
        "",
        "| | |",
        "| --- | --- |",
        f"| klass | {md(factory.get_metadata('klass'))} |",
        f"| rank | {rank_text(factory.get_rank())} |",
        f"| author | {md(factory.get_metadata('author'))} |",
        f"| hierarchy | {hierarchy(gtype)} |",
        f"| interfaces | {interfaces} |",
        "",
        "## Pad templates",
        "",
    ]
    for template in factory.get_static_pad_templates():
        direction = template.direction.value_nick
        presence = template.presence.value_nick
        out += [f"### `{template.name_template}` ({direction}, {presence})", "", "```"]
        out += caps_lines(template.get_caps())
        out += ["```", ""]

    out += ["## Properties", ""]
    out += property_rows(own) if own else ["none"]
    out += ["", "### Inherited properties", ""]
    out += property_rows(inherited) if inherited else ["none"]

    signals = own_signals(gtype)
    out += ["", "## Signals", ""]
    if signals:
        out += ["| signal | defined by | signature |", "| --- | --- | --- |"] + signals
    else:
        out.append("none besides those of GstElement")
    enums = [p for p in own if GObject.type_is_a(p.value_type, GObject.TYPE_ENUM)
             or GObject.type_is_a(p.value_type, GObject.TYPE_FLAGS)]
    if enums:
        out += ["", "## Enumerations"]
        for p in enums:
            out += ["", f"### `{p.value_type.name}`", "", "| value | nick | meaning |",
                    "| --- | --- | --- |"]
            out += [f"| {v} | `{nick}` | {vname} |" for v, nick, vname in
                    enum_values(p)]
    element.set_state(Gst.State.NULL)
    return "\n".join(out) + "\n"


def index_page(plugin, names):
    out = [
        "# Element reference",
        "",
        "<!-- Generated by tools/gen-element-docs.py from the GStreamer registry; do not edit.",
        f"     Refresh: {REFRESH} -->",
        "",
        f"Plugin `{plugin.get_name()}`: {md(plugin.get_description())}. "
        f"Licence {plugin.get_license()}, package {md(plugin.get_package())}.",
        "",
        "The behaviour of each element (what it does to frames, errors, live use) is described "
        f"in [elements.md]({GUIDE}); these pages list what the registry says.",
        "",
    ]
    out += [f"- [{n}]({n}.md)" for n in names]
    return "\n".join(out) + "\n"


def generate(plugin_path, out_dir):
    Gst.init(None)
    plugin = Gst.Plugin.load_file(str(plugin_path))
    registry = Gst.Registry.get()
    factories = sorted(
        (f for f in registry.get_feature_list_by_plugin(plugin.get_name())
         if isinstance(f, Gst.ElementFactory)),
        key=lambda f: f.get_name(),
    )
    if not factories:
        raise RuntimeError(f"{plugin_path} registers no elements")
    pages = {f"{f.get_name()}.md": element_page(f) for f in factories}
    pages["README.md"] = index_page(plugin, [f.get_name() for f in factories])

    out_dir.mkdir(parents=True, exist_ok=True)
    # Pages of elements that no longer exist must not linger.
    for stale in out_dir.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for file_name, text in pages.items():
        (out_dir / file_name).write_text(text, encoding="utf-8")
    return sorted(pages)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plugin", type=pathlib.Path, help="the built plugin, libgstsam3.so")
    parser.add_argument("out_dir", type=pathlib.Path, help="folder for the pages")
    args = parser.parse_args()
    if not args.plugin.is_file():
        sys.exit(f"gen-element-docs: no plugin at {args.plugin} (build it first)")
    try:
        written = generate(args.plugin.resolve(), args.out_dir)
    except (GLib.GError, RuntimeError) as e:
        sys.exit(f"gen-element-docs: {e}")
    print(f"wrote {', '.join(written)} to {args.out_dir}")


if __name__ == "__main__":
    main()
