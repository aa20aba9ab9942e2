# Two commands do all the set-up on a fresh machine:
#   make demo   check, draw, train LeNet-5 on digits, export to ONNX, infer (creates .venv)
#   make test   the test suite (creates .venv)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0

.PHONY: demo test test-all venv graphviz browser clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[torch,onnx,serve,dev]"
	touch $@

venv: $(BIN)/.installed

# graphviz's `dot` renders diagrams; without it netspec still writes .dot files
graphviz:
	@command -v dot >/dev/null 2>&1 || { (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 \
	  || echo "note: could not install graphviz; diagrams will be written as .dot"; }

# headless Chromium drives the `netspec serve` page in tests; without it those tests skip
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
	  || echo "note: could not install chromium; the browser tests will be skipped"; }

demo: venv graphviz
	bash scripts/demo.sh

test: venv graphviz browser
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider -m "not slow"; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

clean:
	rm -rf $(VENV) runs exported/*.onnx exported/*.data

# everything, the large zoo networks and inductor compiles included (~10+ minutes on 2 cores)
test-all: venv graphviz browser
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider
