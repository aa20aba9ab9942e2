// The code editor of the `netspec serve` page: CodeMirror 6 with YAML highlighting, lint
// markers, history, search and Ctrl-S, exposed to the page script as window.NetspecEditor.
// build.sh bundles this file with its npm packages into ../static/editor.js (one minified
// file committed with the package, so the page works offline and CI needs no npm).
import {EditorState, Compartment} from "@codemirror/state";
import {EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
        drawSelection, highlightSpecialChars, rectangularSelection} from "@codemirror/view";
import {yaml} from "@codemirror/lang-yaml";
import {setDiagnostics, lintGutter, lintKeymap} from "@codemirror/lint";
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
import {syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching,
        foldGutter, foldKeymap, indentUnit} from "@codemirror/language";
import {searchKeymap, highlightSelectionMatches} from "@codemirror/search";

const theme = EditorView.theme({
  "&": {height: "100%", fontSize: "13px", backgroundColor: "#fff"},
  ".cm-scroller": {fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
                   lineHeight: "1.45"},
  ".cm-gutters": {backgroundColor: "#f6f8fa", borderRight: "1px solid #e1e4e8", color: "#8b949e"},
  ".cm-activeLine": {backgroundColor: "#f3f7ff"},
  ".cm-activeLineGutter": {backgroundColor: "#e8eefc"},
});

// the position of 1-based line:col in `state`, and the end of the word there (what is marked)
function range(state, line, col) {
  const n = Math.min(Math.max(line || 1, 1), state.doc.lines);
  const l = state.doc.line(n);
  const from = Math.min(l.from + Math.max((col || 1) - 1, 0), l.to);
  let to = from;
  const text = state.sliceDoc(from, l.to);
  const word = /^[^\s,:\]\}]+/.exec(text);
  to = from + (word ? word[0].length : 0);
  if (to === from) to = Math.min(l.to, from + 1);
  if (to === from && from > l.from) return {from: from - 1, to: from};
  return {from, to};
}

function create(parent, options = {}) {
  const onChange = options.onChange || (() => {});
  const onSave = options.onSave || (() => {});
  const editable = new Compartment();
  const extensions = [
    lineNumbers(), highlightActiveLineGutter(), foldGutter(), lintGutter(),
    highlightSpecialChars(), history(), drawSelection(), rectangularSelection(),
    indentOnInput(), bracketMatching(), highlightActiveLine(), highlightSelectionMatches(),
    syntaxHighlighting(defaultHighlightStyle, {fallback: true}), yaml(), indentUnit.of("  "),
    EditorState.tabSize.of(2), EditorView.lineWrapping, theme, editable.of(EditorView.editable.of(true)),
    keymap.of([{key: "Mod-s", preventDefault: true, run: () => { onSave(); return true; }},
               indentWithTab, ...defaultKeymap, ...historyKeymap, ...foldKeymap,
               ...searchKeymap, ...lintKeymap]),
    EditorView.updateListener.of(u => { if (u.docChanged) onChange(u.state.doc.toString()); }),
  ];
  const fresh = doc => EditorState.create({doc, extensions});
  const view = new EditorView({state: fresh(options.doc || ""), parent});
  return {
    view,
    getText: () => view.state.doc.toString(),
    // a new document (another file opened): its own undo history, no change event
    setText(text) { view.setState(fresh(text)); },
    setEditable(on) { view.dispatch({effects: editable.reconfigure(EditorView.editable.of(on))}); },
    // [{line, col, message, severity: "error"|"warning"}] marked in the text and the gutter
    setDiagnostics(list) {
      const state = view.state;
      const marks = list.filter(d => d.line).map(d => ({...range(state, d.line, d.col),
        severity: d.severity || "error", message: d.message}));
      view.dispatch(setDiagnostics(state, marks));
    },
    goto(line, col) {
      const {from} = range(view.state, line, col);
      view.dispatch({selection: {anchor: from}, scrollIntoView: true});
      view.focus();
    },
    focus() { view.focus(); },
  };
}

window.NetspecEditor = {create};
