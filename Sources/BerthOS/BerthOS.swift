// BerthOS
