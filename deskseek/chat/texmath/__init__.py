"""LaTeX math as readable Unicode text: what DeepSeek-R1 writes (`\\(\\frac{3}{8}\\)`, `$x^2$`,
`\\[\\boxed{7}\\]`), shown as `3/8`, `x²` and a framed 7 in a terminal.

Pure text, no screen. Why here: the chat app (tui/) and `deskseek run` (cli/) both use it, and cli/ may not
import tui/ (only cli/chat.py may: tests/test_layers.py), so it lives in the core, which both faces import; of
the core's units it belongs to `chat`, what a conversation says (not `engines`, how a model runs). It never
changes what is stored: history, `run --json`, exports and copies keep the model's own TeX; only what is shown
passes through here.

- formula.py: one formula's TeX to Unicode (inline: one line; display: lines, with frames and aligned rows),
  or `Unreadable`, and the caller shows the formula as written.
- atoms.py: a formula's line as atoms, spaced as TeX spaces them (around `=`, around `-` between operands).
- layout.py: how the parts go together: the parentheses a fraction's parts need; frames, aligned rows,
  cases and matrices side by side on a display line.
- symbols.py: the tables (pylatexenc's symbol table, ours for what it lacks, superscripts, subscripts, fonts).
- spans.py: finding the formulas in streamed Markdown (never in code, never a price), a formula at a time
  once it is complete, at a cost per token that does not grow with the reply.
"""

# Around text that stands out (the contents of \boxed): each face shows it its own way (bold), or drops them.
# Here, so that a face can know them without importing the converter (imported on the first formula).
BOX_OPEN, BOX_CLOSE = "\ue000", "\ue001"
