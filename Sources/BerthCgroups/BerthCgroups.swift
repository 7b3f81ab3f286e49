// BerthCgroups
