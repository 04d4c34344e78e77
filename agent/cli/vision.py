"""``canteen-agent vision eval|enroll``: measure the mask model, enrol the site's chef hats.

Each action parses its own options (``canteen-agent vision eval --help``), so every
argument after the action goes to it unchanged.
"""

from __future__ import annotations

import argparse


def cmd_vision_eval(args: argparse.Namespace) -> int:
    from agent.vision.eval.cli import main as eval_main

    return eval_main(args.action_args)


def cmd_vision_enroll(args: argparse.Namespace) -> int:
    from agent.vision.hat import main as enroll_main

    return enroll_main(args.action_args)


def extend(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("vision", help="vision models: eval --data DIR | eval --scenes DIR | enroll --from DIR")
    actions = p.add_subparsers(dest="vision_action", required=True)
    for name, fn, text in (("eval", cmd_vision_eval, "confusion matrix of the mask model on a labelled folder"),
                           ("enroll", cmd_vision_enroll, "fit this site's chef-hat model from hat/ no_hat/ crops")):
        # prefix_chars="+": no option of ours, so --data, --from ... reach the action's parser
        q = actions.add_parser(name, help=text, add_help=False, prefix_chars="+")
        q.add_argument("action_args", nargs=argparse.REMAINDER, help="options of the action (see --help)")
        q.set_defaults(fn=fn)

