# The two commands of the README. Each also works as `sh scripts/<name>.sh`.
.PHONY: run test lint bench

run:
	sh scripts/run.sh

test:
	sh scripts/test.sh $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && DEBUG=true .venv/bin/mypy . && .venv/bin/lint-imports
