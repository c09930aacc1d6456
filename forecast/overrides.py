"""Mistyped command-line overrides as one line naming the nearest keys or options.

Hydra answers `model.hiden_size=8` with five lines that suggest `+model.hiden_size=8` (which
adds the typo as a new key), and `model=gruu` with its config search path. Here the same
overrides are composed first (~0.3 s); a key or option that does not exist becomes a
`ConfigError` with the closest names. Anything else is left to Hydra, which composes again.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from forecast.errors import ConfigError

# The Hydra configs: conf/ beside the package in a checkout (an editable install), or
# forecast/conf inside an installed wheel.
CONF = next(folder for folder in (Path(__file__).resolve().parent / "conf",
                                  Path(__file__).resolve().parents[1] / "conf")
            if (folder / "train.yaml").is_file())


def check_overrides(args: list[str], config_name: str = "train") -> None:
    """Raise ConfigError for an override naming a key or a config option that does not exist.
    Command lines with flags (`-m`, `--cfg`, `-cn` ...) are left to Hydra, once no two of them
    ask for different things (`-m --cfg job`: Hydra's traceback)."""
    _check_one_mode(args)
    if any(arg.startswith("-") for arg in args):
        return
    try:
        _compose(config_name, args)
    except MissingConfigException as error:
        raise ConfigError(_missing_option(error, args)) from None
    except ConfigCompositionException as error:
        missing = getattr(error.__cause__, "full_key", None)
        typed = [arg for arg in args if missing and _names(_key(arg), missing)]
        if not typed:
            return  # not a missing key: Hydra's own message
        cfg = _compose_what_composes(config_name, [arg for arg in args if arg is not typed[0]])
        raise ConfigError(_missing_key(_key(typed[0]), cfg)) from None
    except Exception:  # noqa: BLE001 - Hydra reports it in its own words
        return


# Hydra's flags that each choose what it does; it takes one of them at a time.
MODES = {"-r": "--run", "-m": "--multirun", "-c": "--cfg", "-i": "--info",
         "-sc": "--shell-completion"}


def _check_one_mode(args: list[str]) -> None:
    given = [arg.split("=", 1)[0] for arg in args if arg.split("=", 1)[0] in
             {*MODES, *MODES.values()}]
    modes = list(dict.fromkeys(MODES.get(flag, flag) for flag in given))
    if len(modes) > 1:
        drop = "-m" if "--multirun" in modes else given[0]
        raise ConfigError(
            f"{' and '.join(given)} cannot go together: Hydra does one of --run, --multirun, "
            f"--cfg, --info, --shell-completion at a time; drop {drop} (the config a sweep "
            "composes, sweeper included, prints without -m: `--cfg job`, `--cfg hydra`).")


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config_name, overrides=overrides)


def _compose_what_composes(config_name: str, overrides: list[str]) -> DictConfig:
    """The config with `overrides`, else with their group choices only, else the default."""
    groups = [arg for arg in overrides if "." not in _key(arg)]
    for attempt in (overrides, groups):
        try:
            return _compose(config_name, attempt)
        except Exception:  # noqa: BLE001 - another bad override: fall back
            continue
    return _compose(config_name, [])


def _key(override: str) -> str:
    """`+model.extra=1` -> `model.extra`."""
    return override.split("=", 1)[0].lstrip("+~")


def _names(key: str, missing: str) -> bool:
    """Whether override key `key` leads through the missing key `missing` (or is it)."""
    return key.split(".")[:len(missing.split("."))] == missing.split(".")


def _missing_key(key: str, cfg: DictConfig) -> str:
    """`model.hiden_size: no such key in the config; did you mean model.hidden_size? ...`"""
    parts, node, depth = key.split("."), cfg, 0
    while depth < len(parts) and isinstance(node, DictConfig) and parts[depth] in node:
        node, depth = node[parts[depth]], depth + 1
    names = ([str(name) for name in node.keys() if not str(name).startswith("_")]
             if isinstance(node, DictConfig) else [])  # `_target_` is no setting to suggest
    close = difflib.get_close_matches(parts[depth], names, n=3, cutoff=0.6)
    guesses = [".".join([*parts[:depth], name, *parts[depth + 1:]]) for name in close]
    moved = not guesses and depth == len(parts) - 1
    if moved:  # the same key in another section
        guesses = [f"{name}.{parts[-1]}" for name in cfg if name != parts[0]
                   and isinstance(cfg[name], DictConfig) and parts[-1] in cfg[name]]
    where = ".".join(parts[:depth]) or "the top level"
    choices = options_with_key(parts[0], parts[1]) if depth == 1 and len(parts) == 2 else []
    if choices:
        options = " or ".join(f"{parts[0]}={name}" for name in choices)
        guess = f"{parts[1]} is an option of {options}, not of this {parts[0]}: choose one."
    elif guesses:
        guess = f"did you mean {' or '.join(guesses)}?"
    else:
        guess = f"the keys of {where}: {', '.join(sorted(names)) or 'none'}."
    new = ("" if parts[0] in CHECKED_GROUPS or choices or (moved and guesses)
           else f"; +{key}=... adds a new one")
    return (f"{key}: no such key in the config; {guess} (`python -m forecast.train --cfg job` "
            f"lists the keys{new})")


# Groups whose keys are the arguments of our own classes: a new key there is refused.
CHECKED_GROUPS = ("model", "data")


def options_with_key(group: str, key: str) -> list[str]:
    """The options of config group `group` (conf/<group>/*.yaml) that have the top-level key
    `key`: where a key missing from the chosen option lives."""
    folder = CONF / group
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.yaml")
                  if key in (OmegaConf.load(path) or {}))


def _missing_option(error: MissingConfigException, args: list[str]) -> str:
    """`model=gruu: no such option in conf/model/; did you mean model=gru? ...`"""
    group, _, name = str(error.missing_cfg_file).rpartition("/")
    options = list(error.options or [])
    if not group or not options:
        return str(error).splitlines()[0]
    # As typed: `+experiment=sinee` is answered with `+experiment=sine`.
    typed = next((arg.split("=", 1)[0] for arg in args if _key(arg) == group), group)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    guess = f"did you mean {typed}={close[0]}? " if close else ""
    return (f"{typed}={name}: no such option in conf/{group}/; {guess}the options: "
            f"{', '.join(options)}.")
