# The mapping models arrive with the [mappings] issue (MappingSet, FieldMapping, ValueMap, …).
