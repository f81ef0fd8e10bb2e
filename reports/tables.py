"""Tables 1–3 as data: one structure rendered to HTML, CSV and LaTeX with the same marks.

A :class:`Table` has label columns (method, type, …) and value columns grouped under headers
(dataset → SRCC, PLCC). Each value cell knows its rank in its column (1 = best → bold,
2 = second → underlined), its provenance (run id) and, when missing, the command that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cell:
    value: float | None = None
    text: str = "—"
    rank: int = 0  # 1 best (bold), 2 second (underlined), 0 neither
    title: str = ""  # tooltip: IQR, CI, …
    run_id: str | None = None
    command: str | None = None  # for a missing cell: how to fill it
    extra: str = ""  # small text under the value (e.g. CI)
    mark: str = ""  # e.g. "†": the run is not comparable with published numbers (explained in a note)
    style: str = ""  # extra CSS classes, e.g. "published" (a value typed in from a paper), "not-comparable"

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass
class Table:
    key: str  # "table1", …
    title: str
    caption: str
    label_headers: list[str]  # e.g. ["Method", "Type"]
    groups: list[tuple[str, list[str]]]  # [("LIVE", ["SRCC", "PLCC"]), …]
    rows: list[tuple[list[str], list[Cell]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    group_badges: dict[str, str] = field(default_factory=dict)  # group -> badge text (e.g. SYNTHETIC)

    @property
    def leaf_columns(self) -> list[str]:
        return [f"{g} {sub}".strip() for g, subs in self.groups for sub in subs]

    def missing_cells(self) -> list[tuple[str, str]]:
        out = []
        for labels, cells in self.rows:
            for cell in cells:
                if cell.missing and cell.command and (labels[0], cell.command) not in out:
                    out.append((labels[0], cell.command))
        return out


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:
        return "n/a" if value is not None else "—"
    return f"{value:.{digits}f}"


def rank_columns(table: Table) -> None:
    """Mark best (1) and second best (2) per value column, higher is better; ties share a rank."""
    if not table.rows:
        return
    n = len(table.rows[0][1])
    for j in range(n):
        values = sorted({c.value for _, cells in table.rows if (c := cells[j]).value is not None and c.value == c.value}, reverse=True)
        for _, cells in table.rows:
            c = cells[j]
            if c.value is None or c.value != c.value or not values:
                continue
            c.rank = 1 if c.value == values[0] else 2 if len(values) > 1 and c.value == values[1] else 0


def rank_rows(table: Table) -> None:
    """Bold the best (and underline the second best) value of each row."""
    for _, cells in table.rows:
        values = sorted({c.value for c in cells if c.value is not None and c.value == c.value}, reverse=True)
        for c in cells:
            if c.value is not None and c.value == c.value and values:
                c.rank = 1 if c.value == values[0] else 2 if len(values) > 1 and c.value == values[1] else 0


def to_csv_rows(table: Table) -> list[list[str]]:
    header = [*table.label_headers, *table.leaf_columns]
    rows = [header]
    for labels, cells in table.rows:
        rows.append([*labels, *("" if c.value is None else repr(round(c.value, 6)) for c in cells)])
    return rows


_LATEX_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "→": r"$\rightarrow$", "–": "--", "—": "---", "×": r"$\times$", "Δ": r"$\Delta$",
}


_LATEX_MARKS = {"†": r"\dagger"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: Table) -> str:
    """A booktabs tabular with the same bold/underline marks as the HTML."""
    n_labels = len(table.label_headers)
    spec = "l" * n_labels + "".join("c" * len(subs) for _, subs in table.groups)
    lines = [
        f"% {latex_escape(table.title)} (iqabench). Needs \\usepackage{{booktabs}}.",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
    ]
    top = [""] * n_labels + [
        f"\\multicolumn{{{len(subs)}}}{{c}}{{{latex_escape(g)}}}" if len(subs) > 1 else latex_escape(g)
        for g, subs in table.groups
    ]
    lines.append(" & ".join(top) + " \\\\")
    col = n_labels + 1
    rules = []
    for _, subs in table.groups:
        if len(subs) > 1:
            rules.append(f"\\cmidrule(lr){{{col}-{col + len(subs) - 1}}}")
        col += len(subs)
    if rules:
        lines.append(" ".join(rules))
    if any(sub for _, subs in table.groups for sub in subs):
        lines.append(" & ".join([latex_escape(h) for h in table.label_headers] + [latex_escape(s) for _, subs in table.groups for s in subs]) + " \\\\")
    lines.append("\\midrule")
    for labels, cells in table.rows:
        values = []
        for c in cells:
            text = latex_escape(c.text if not c.missing else "--")
            if c.rank == 1:
                text = f"\\textbf{{{text}}}"
            elif c.rank == 2:
                text = f"\\underline{{{text}}}"
            values.append(text + (f"$^{{{_LATEX_MARKS.get(c.mark, '*')}}}$" if c.mark else ""))
        lines.append(" & ".join([latex_escape(x) for x in labels] + values) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    if any(c.mark for _, cells in table.rows for c in cells):
        lines.insert(-1, "% $^\\dagger$: the run left images out or read labels outside the dataset's range; "
                         "not comparable with published numbers")
    return "\n".join(lines)
