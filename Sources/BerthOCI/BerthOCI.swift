// BerthOCI
