"""`deskseek show MODEL`: what a model is and how it will run, from its own file, offline.

Its chat template (what the prompt will look like), the sampling it runs with unless flags say otherwise
and where those values come from, its licence, what it is (architecture, parameters, quantization, the
context it was trained for) and its memory plan on this machine, the same plan `info MODEL` prints.
"""

from __future__ import annotations

import json

from deskseek.cli import flags


def cmd_show(args) -> int:
    flags.go_offline()
    from deskseek.engines import launch
    from deskseek.models import choice

    chosen = choice.choose(args.model)
    info = launch.read_model(chosen.path)
    template = info.metadata.get("tokenizer.chat_template")
    template = template if isinstance(template, str) else None
    if args.template:
        if template is None:
            from deskseek.errors import NotFound

            raise NotFound(f"{chosen.name} has no chat template in its GGUF (tokenizer.chat_template)")
        print(template, end="" if template.endswith("\n") else "\n")
        return 0
    from deskseek.cli import plan_view

    machine, facts, plan = plan_view.make(chosen, args, info)
    report = describe(chosen, info, template)
    if args.json:
        print(json.dumps({**report, "plan": {**plan_view.as_dict(facts, plan),
                                             "machine": machine.as_dict()}}, ensure_ascii=False, indent=2))
        return 0
    _print(report)
    plan_view.print_plan(machine, facts, plan)
    if template is not None:
        print(f"template   {len(template)} characters (`deskseek show {args.model} --template` prints only it):")
        print(template, end="" if template.endswith("\n") else "\n")
    else:
        print("template   none in the GGUF: deskseek falls back to a plain ChatML-style prompt")
    return 0


def describe(chosen, info, template: str | None) -> dict:
    """Everything `show` says about the model itself (its plan aside), as JSON-ready values."""
    from deskseek.engines import launch
    from deskseek.models import gguf, gguf_names

    spec = launch.registry_spec(chosen)
    defaults = launch.sampling_defaults(chosen, info)
    licence = spec.license if spec else info.metadata.get("general.license")
    architecture = info.architecture
    trained = info.arch_value("context_length")
    parameters, active = info.parameters, info.active_parameters
    return {
        "model": chosen.name,
        "path": str(chosen.path),
        "architecture": architecture,
        "parameters": parameters,
        "parameters_active": active if active != parameters else None,
        "quant": (chosen.installed.quant if chosen.installed else None) or gguf_names.quant_of(chosen.path.name)
        or info.quant,
        "context_length": trained if isinstance(trained, int) else None,
        "license": licence if isinstance(licence, str) else None,
        "license_source": ("models.toml" if spec else "the GGUF") if isinstance(licence, str) else None,
        "reasoning": chosen.reasoning if chosen.reasoning is not None
        else gguf.is_reasoning_template(template or ""),
        "system_prompt": chosen.sampling.system_prompt,
        "sampling": {
            "temperature": defaults.temperature, "top_p": defaults.top_p, "top_k": defaults.top_k,
            "min_p": defaults.min_p, "repeat_penalty": defaults.repeat_penalty, "source": defaults.source,
        },
        "template": template,
    }


def _print(report: dict) -> None:
    count = report["parameters"]
    params = f"{count / 1e9:.2f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"
    if report["parameters_active"]:
        params += f" ({report['parameters_active'] / 1e9:.1f}B active)"
    trained = f", trained for {report['context_length']} tokens" if report["context_length"] else ""
    s = report["sampling"]
    print(f"model      {report['model']}")
    print(f"path       {report['path']}")
    print(f"what       {report['architecture'] or '?'}, {params} parameters, {report['quant'] or '?'}{trained}")
    licence = f"{report['license']} (from {report['license_source']})" if report["license"] else "not stated"
    print(f"licence    {licence}")
    print(f"thinks     {'yes' if report['reasoning'] else 'no'}")
    print(f"sampling   temperature {s['temperature']:g}, top-p {s['top_p']:g}, top-k {s['top_k']}, "
          f"min-p {s['min_p']:g}, repeat penalty {s['repeat_penalty']:g} (from {s['source']}; flags override)")
    if not report["system_prompt"]:
        print("system     none: a system prompt is folded into the first user turn, as the model's card advises")


def add_commands(commands) -> None:
    p = commands.add_parser("show", help="a model's template, sampling defaults, licence and memory plan (offline)")
    p.add_argument("model", help="installed name, alias or path to a .gguf")
    p.add_argument("--template", action="store_true", help="print only the chat template")
    p.add_argument("--json", action="store_true", help="one JSON object")
    flags.context_flags(p)
    flags.memory_flags(p)
    p.set_defaults(func=cmd_show)
