"""The families, one module each: every module here declares one :class:`latentworks.registry.Family` on import.

A new family is a new module here (plus its recipes, pipeline, study and explorer modules, which it names);
nothing else lists families.
"""
