// The workspace's SQL editor: CodeMirror 6 with DuckDB-flavoured SQL and completion of the
// role's tables and columns. Bundled by esbuild into catalog/service/static/vendor/ (make setup).
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { sql, PostgreSQL } from "@codemirror/lang-sql";

// schema: {"staging.household_population": ["gmsfhm", ...], ...}; onRun: called by Ctrl-Enter;
// nonce: the page's CSP nonce for the <style> element CodeMirror adds (the policy allows no inline style).
export function createEditor(parent, { doc = "", schema = {}, onRun = () => {}, nonce = "" } = {}) {
  const run = keymap.of([{ key: "Mod-Enter", run: () => { onRun(); return true; } }]);
  return new EditorView({
    doc,
    parent,
    extensions: [
      EditorView.cspNonce.of(nonce),
      run,
      basicSetup,
      EditorView.lineWrapping,
      sql({ dialect: PostgreSQL, schema, upperCaseKeywords: true }),
    ],
  });
}

export function getText(view) { return view.state.doc.toString(); }

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
