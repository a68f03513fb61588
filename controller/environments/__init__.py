"""The environment controller: a pure core (templates, expansion, state machine, plan) and I/O.

    template.py   layered variables, late-bound `{{ }}` rendering (Scope)     pure
                  (the sandbox itself is crds.templating, shared with payloads)
    expand.py     Environment + Workflow + TaskClasses -> desired Tasks, hooks pure
    machine.py    states, events, shortest paths, the steps of a transition   pure
    taskset.py    desired vs owned Tasks -> create / update / delete / adopt   pure
    status.py     status summaries, conditions, history, failure handling     pure
    plan.py       one reconcile: plan(env, workflow, classes, tasks, now=...)  pure
    hooks.py      call roles run as argv subprocesses with a timeout          I/O
    controller.py EnvironmentReconciler: cache -> plan -> store -> status     I/O

Register `controller.environments.controller:EnvironmentReconciler` with the manager.
"""
