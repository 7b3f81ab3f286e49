// BerthImages
