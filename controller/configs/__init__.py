"""The configuration repository: ComponentConfig versions, validation and change propagation.

    resolve.py     resolution, payload checks, rendering, the template `config()` helper  pure
    pending.py     which Environments a config change leaves stale (ConfigChangePending) pure
    controller.py  ComponentConfigReconciler: versions + Ready, marks Environments         I/O

Register `controller.configs.controller:ComponentConfigReconciler` with the manager.
"""
