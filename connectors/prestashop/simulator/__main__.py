"""`python -m connectors.prestashop.simulator --port 8080`: the simulator without Django."""

import argparse
import sys

from connectors.prestashop.simulator import cli


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.prestashop.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    cli.add_arguments(parser)
    cli.run(vars(parser.parse_args(argv)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
