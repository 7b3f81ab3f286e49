// BerthSeccomp
