"""How each capability attaches to the agent: ``build(ctx) -> Capability``, nothing else.

Each module here reads the config, creates its drivers and workflows, and returns a
declared value (``agent.wiring.capability``): the components the supervisor runs, the
workflows and health listeners that join the reading bus, the devices the health
watch covers, the platform commands it answers. ``agent.app.Agent`` lists them in one
explicit tuple, in start order; nothing registers itself on import, and a capability
never writes onto the agent.
"""
