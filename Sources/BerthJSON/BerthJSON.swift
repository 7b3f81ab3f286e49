// BerthJSON
